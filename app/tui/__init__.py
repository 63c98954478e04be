"""The Textual dashboard, a client of the REST API (it imports ``app.client``, never the server).

From the top: ``app`` (the app, built by ``build_app``; the event-stream worker), ``commands``
(the palette, from the key bindings), ``screens/`` (one screen a module; ``main_workers`` holds
the main screen's API calls), then what screens rely on: ``base`` (the typed app and screen
bases), ``messages`` (server events as Textual messages), ``event_stream``, ``keymap``.
Widgets live below, in the top-level ``widgets`` package, and import nothing from here.
"""
