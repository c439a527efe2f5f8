"""The internal team's work queue (issue 20, item 5): tasks to call or look at a debtor.

`models.py` the tables (registered on the shared metadata by `portal.models`),
`service.py` making tasks (once per event, one open task per debtor and reason),
priorities, rights and the outcomes a clerk logs, `events.py` the events that make tasks
(a broken promise, a breached plan, an undelivered 14-day letter, a bounced address, a
dispute waiting for an answer), `history.py` a debtor's whole history on one screen.
"""
