"""Management pages: connection profiles (panel admins) and teams (panel and team admins).

One module per area: ``index``, ``profiles``, ``teams``, ``members``, ``grants`` and
``notifications``; ``common`` holds the access checks they share. Each view parses its input,
asks ``controlpanel.permissions``, calls one service function, flashes and redirects or
renders. Someone who may not see a thing gets 404; someone who may see it but not change it
gets 403, and the service records the denial.
"""
