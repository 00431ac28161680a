"""Input contracts of the diagnostics: what a move of an alert may ask for, held alike by
the API and the console (see fleet/contracts/)."""
