/*
 * The trigger form, enhanced: a live conf preview that follows every field, a JSON box the
 * fields follow in turn, a syntax check on JSON fields, "copy as API call", and a summary
 * of missing required fields before anything is posted. The server reads the form the same
 * way for the preview as for the trigger (one parser), so the preview is what is sent.
 * Without this script the form still works: the server checks everything on submit.
 */
(function () {
  "use strict";

  const form = document.getElementById("trigger-form");
  if (!form) return;
  const fields = document.getElementById("param-fields");
  const confJson = document.getElementById("conf_json");
  const confStatus = document.getElementById("conf_json_status");
  const useJson = document.getElementById("use_conf_json");
  const apiCall = document.getElementById("api-call");
  const previewUrl = form.dataset.previewUrl;
  let sequence = 0;
  let timer = null;

  const summary = document.getElementById("error-summary");
  if (summary) summary.focus();

  // A link in the error summary puts the cursor in the field it names.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("#error-summary a[href^='#']");
    if (!link) return;
    const target = document.getElementById(link.getAttribute("href").slice(1));
    if (!target) return;
    event.preventDefault();
    const control = target.matches("fieldset") ? target.querySelector("input") : target;
    target.scrollIntoView({ block: "center" });
    if (control) control.focus();
  });

  // The JSON box and the fields stay in step, so which one is sent is decided by the last edit.
  const useJsonRow = document.getElementById("use-conf-json-row");
  if (useJsonRow) useJsonRow.hidden = true;

  function preview(source) {
    const data = new FormData(form);
    data.set("source", source);
    const mine = ++sequence;
    fetch(previewUrl, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    })
      .then((response) => (response.ok ? response.json() : null))
      .then((answer) => {
        if (!answer || mine !== sequence) return; // a newer edit is on its way
        showPreview(source, answer);
      })
      .catch(() => {
        /* the preview is a convenience: the server checks everything on submit */
      });
  }

  function showPreview(source, answer) {
    confStatus.textContent = answer.json_error || "";
    if (answer.api_call) apiCall.textContent = answer.api_call;
    if (source === "fields" && answer.conf_json !== undefined && document.activeElement !== confJson) {
      confJson.value = answer.conf_json;
    }
    if (source === "json" && answer.fields_html !== undefined) {
      fields.innerHTML = answer.fields_html;
      fields.querySelectorAll("[data-json-editor]").forEach(checkJsonField);
    }
  }

  function later(source, wait) {
    clearTimeout(timer);
    timer = setTimeout(() => preview(source), wait);
  }

  fields.addEventListener("input", (event) => {
    useJson.checked = false;
    if (event.target.matches("[data-json-editor]")) checkJsonField(event.target);
    later("fields", 250);
  });
  fields.addEventListener("change", () => {
    useJson.checked = false;
    later("fields", 50);
  });
  fields.addEventListener(
    "blur",
    (event) => {
      if (event.target.matches("[data-json-editor]")) prettyPrint(event.target);
    },
    true,
  );
  confJson.addEventListener("input", () => {
    useJson.checked = true;
    later("json", 400);
  });
  ["logical_date", "note"].forEach((id) => {
    const input = document.getElementById(id);
    if (input) input.addEventListener("input", () => later(useJson.checked ? "json" : "fields", 300));
  });

  // --- JSON fields: a syntax check as you type, pretty-printed when you leave them -------------
  function checkJsonField(textarea) {
    const status = textarea.parentElement.querySelector(".json-status");
    const text = textarea.value.trim();
    let problem = "";
    if (text) {
      try {
        JSON.parse(text);
      } catch (error) {
        problem = "Not valid JSON yet: " + error.message;
      }
    }
    textarea.setAttribute("aria-invalid", problem ? "true" : "false");
    if (status) status.textContent = problem || (text ? "Valid JSON." : "");
  }

  function prettyPrint(textarea) {
    try {
      const text = textarea.value.trim();
      if (text) textarea.value = JSON.stringify(JSON.parse(text), null, 2);
    } catch (error) {
      /* left as typed: the check above says what is wrong */
    }
  }

  fields.querySelectorAll("[data-json-editor]").forEach(checkJsonField);

  // --- copy as API call ------------------------------------------------------------------------
  const copyButton = document.getElementById("copy-api-call");
  const copyStatus = document.getElementById("copy-status");
  if (copyButton) {
    copyButton.hidden = false;
    copyButton.addEventListener("click", () => {
      const text = apiCall.textContent;
      const done = () => (copyStatus.textContent = "Copied.");
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, () => selectText(apiCall));
      } else {
        selectText(apiCall);
        copyStatus.textContent = "Selected: press Ctrl+C (or ⌘C) to copy.";
      }
    });
  }

  function selectText(element) {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  // --- required fields: named and linked before anything is posted ----------------------------
  form.addEventListener("submit", (event) => {
    if (useJson.checked) return; // the JSON is checked by the server
    const missing = [];
    fields.querySelectorAll(".form-row").forEach((row) => {
      const control = row.querySelector("input[required], select[required], textarea[required]");
      if (control && control.value === "") missing.push(labelled(row, control.id));
      const chips = row.querySelector("fieldset.chips");
      if (chips && row.querySelector(".required-mark") && !chips.querySelector("input:checked")) {
        missing.push(labelled(row, chips.id));
      }
    });
    if (missing.length === 0) return;
    event.preventDefault();
    showSummary(missing);
  });

  function labelled(row, id) {
    const label = row.querySelector("label, legend");
    const text = label ? label.firstChild.textContent.trim() : id;
    const errors = row.querySelector(".field-error");
    if (errors) {
      errors.hidden = false;
      errors.innerHTML = "<li>This field is required.</li>";
    }
    row.classList.add("form-row--error");
    return { id, text };
  }

  function showSummary(missing) {
    let box = document.getElementById("error-summary");
    if (!box) {
      box = document.createElement("div");
      box.id = "error-summary";
      box.className = "message message--error error-summary";
      box.setAttribute("role", "alert");
      box.tabIndex = -1;
      form.parentElement.parentElement.insertBefore(box, form.parentElement);
    }
    box.replaceChildren();
    const intro = document.createElement("p");
    intro.textContent = "Fill in the required fields before triggering:";
    const list = document.createElement("ul");
    missing.forEach(({ id, text }) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = "#" + id;
      link.textContent = text;
      item.append(link, ": This field is required.");
      list.append(item);
    });
    box.append(intro, list);
    box.focus();
  }
})();
