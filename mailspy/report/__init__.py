"""`mailspy report`: static HTML reports of the summary logs.

The records flow one way, one module per step:

    sources (files, rotated, gzip, stdin) -> layouts (text, JSON Lines)
    -> select (period, --only, --exclude-local) -> pseudonym (--pseudonymize)
    -> build (rows rendered once, message log pages written as they fill)
    -> tally (counts per address and domain, newest rows kept per page)
    -> pages (Jinja2 templates, autoescaped) -> site (a fresh folder swapped in)

One pass over the logs; memory grows with the number of distinct addresses
and domains, never with the number of messages.
"""
