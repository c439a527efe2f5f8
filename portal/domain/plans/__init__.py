"""Payment plans, by stage: `schedules` (pure schedule arithmetic and the policy check),
`proposals` (one `Proposal` type, the debtor's and the admin's), `lifecycle` (offer, one
`accept`, decline, cancel; the state table; holds), `progress` (keeping a plan: what is
paid, reminders, completion, breach) and `listing` (reading plans)."""
