"""Input contracts: the bounds and validation every input is held to, whether a partner
sends it to the API or a person types it into the console. The API's schemas and the
console's forms both validate with these, so both edges accept exactly the same."""
