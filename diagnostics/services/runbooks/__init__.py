"""Diagnostic runbooks at work, one module per job (import the one you need):

- `runs`: what every job shares — the statuses that end a run, finding a runbook or a
  run, and the history line and audit entry each move leaves;
- `engine`: the moves on a run — start, verify, advance, act on a step, send its
  command, pause and resume, resolve, close, escalate;
- `steps`: what a step offers the person running it (actions, answers, its command);
- `checklist`: what an escalation hands over, gathered from live data;
- `handover`: a charger changing hands closes its previous operator's unfinished runs;
- `suggestions`: ranking runbooks for a device or an alert.
"""
