"""Read-only queries shared by the API's lists and the console's tables: one function per
listing, whose keyword arguments are its filters, scoped to the operator."""
