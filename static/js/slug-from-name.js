/*
 * A slug field filled from the name as it is typed: on any input carrying
 * data-slug-from="<id of the name field>". It stops as soon as the person edits the slug
 * themselves, and starts again if they empty it. The same rule as the server's slugify
 * (Django's), so what is shown is what an empty slug would have become anyway. Without
 * this script the server makes the slug from the name when it is left empty.
 */
(function () {
  "use strict";

  function slugify(text) {
    return text
      .normalize("NFKD")
      .replace(/[^\x00-\x7F]/g, "")
      .toLowerCase()
      .replace(/[^\w\s-]/g, "")
      .replace(/[-\s]+/g, "-")
      .replace(/^[-_]+|[-_]+$/g, "");
  }

  document.querySelectorAll("input[data-slug-from]").forEach((slug) => {
    const name = document.getElementById(slug.dataset.slugFrom);
    if (!name) return;
    const limit = slug.maxLength > 0 ? slug.maxLength : 50;
    const fromName = () => slugify(name.value).slice(0, limit).replace(/[-_]+$/, "");
    // A slug already there (a refused form shown again) counts as edited unless it is
    // exactly what the name gives.
    let edited = slug.value !== "" && slug.value !== fromName();
    slug.addEventListener("input", () => {
      edited = slug.value !== "";
    });
    name.addEventListener("input", () => {
      if (!edited) slug.value = fromName();
    });
  });
})();
