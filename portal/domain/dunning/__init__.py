"""Dunning: reminder schedules, the set-based daily evaluation, collection costs, interest."""
