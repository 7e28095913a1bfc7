"""`bot dashboard`: a read-only page over a paper run's state and journal, on 127.0.0.1.

data.py reads the state directory and the journal (views, no writes), stream.py turns
their changes into server-sent events, app.py is the FastAPI app (the page, its JSON, the
halt and resume buttons behind a token), server.py runs it with uvicorn in a thread.
static/ holds the page: plain HTML, CSS and JS, no build step, nothing from a CDN (plotly.js
is served from the installed plotly package). Imports no broker, no alpaca-py.
"""
