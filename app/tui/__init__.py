"""The Textual dashboard: app, screens, command palette and keymap (a client of the REST API)."""
