"""cpqwest: the compiled core of pyqwest (llhttp parser, HTTP/1.1 protocol, pool).

No public names of its own: `import pyqwest` is the API.
"""
