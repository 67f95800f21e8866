"""The web app: the dashboard at ``/`` and the agent console's shell at ``/console``.

Pages are plain ES modules and CSS under ``web/static`` (no build step, nothing from a CDN);
they read and write through the JSON API under ``/api``, signed in with a session cookie
(``crm/api/session.py``). This package serves files only: it imports neither ``crm`` nor
``telephony``, and nothing imports it but ``server.py``.
"""
