"""A fleet of simulated Tellus chargers that talk to a server only through the public
charger API (register, token, heartbeat, telemetry, events, charging records, long poll,
command status, firmware status), so it runs against any server implementing the spec.

- `physics`: a connector's session, along an AC or DC charging curve;
- `client`: the HTTP side of one charger, with the spec's backoff rules;
- `charger`: one charger's behaviour (sessions, heartbeats, commands);
- `scenarios`: the documentation's field cases, selectable per run;
- `versions`: dotted firmware versions compared as numbers;
- `fleet`: many chargers in one event loop, their state file and the run's summary.

`python manage.py simulate_fleet` runs it (see docs/simulator.md).
"""
