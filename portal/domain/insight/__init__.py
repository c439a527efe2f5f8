"""Receivables insight (issue 19): DSO, ageing, payer ratings, predicted payment dates, the
cash forecast and how good the predictions were.

The worker computes everything at night (`refresh.run`) into tables the pages read:

book       the receivables in columns, one row per invoice, read in one pass
settle     the day each settled invoice was paid, read from its history
dso        receivables at given days, countback and standard DSO, best possible DSO
ageing     open amounts by age; the invoices behind a figure
rating     a debtor's score 0-100 and its grade from its own history
predict    when an open invoice will be paid: the debtor's survival curve of days
           after the due date, shrunk towards its segment's
forecast   expected money in per week; what came in
backtest   the last 90 days predicted from what was known before them
refresh    the nightly recompute; read: what pages show; rules: rating -> segment;
           summary: the weekly mail's figures; xlsx: downloads
"""
