"""The local Azure: one process that speaks ARM, Microsoft Graph and an Entra-like
identity service over HTTPS on 127.0.0.1, plus one APIM data-plane gateway port per
APIM service and a runner that starts container apps as local processes.

``store`` persists every resource (SQLite in the lab's state folder); ``context``
carries what the sub-apps share; ``app`` assembles the sub-apps into one ASGI app.
"""
