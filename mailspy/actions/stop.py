"""stop: evaluate no further rules.

It writes nothing; the rules language gives it its meaning (a rule with
`stop` ends evaluation once all of its actions are planned). It is declared
here so that the language knows its name like any action's.
"""

from __future__ import annotations

from mailspy.actions.action import CONTROL, ActionType

ACTION = ActionType(name="stop", doc="evaluates no further rules", kind=CONTROL, rank=90)
