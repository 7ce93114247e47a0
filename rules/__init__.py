"""Business rules of the manuals as plain functions: deadlines, derived dates, gates and counts.

They take plain values (or model rows) and never touch the web layer, so each one is tested at
its edges without a request.
"""
