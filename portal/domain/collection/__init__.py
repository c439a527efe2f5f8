"""Hand-over to a collection agency (issue 20): the queue (queue.py), agencies and their
hand-overs (agencies.py, handover.py), the dossier (dossier.py), delivery (delivery.py),
the agencies' reports (reports.py) and write-offs (writeoff.py). Tables: models.py."""
