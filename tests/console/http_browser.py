"""A browser over real HTTP for the multi-server console tests: one cookie jar for every
server (as one site behind a load balancer), a CSRF cookie with its header on each post,
and the address it claims through X-Forwarded-For (the servers trust 127.0.0.1 as a
proxy: start them with PROXY_ENV)."""

import secrets
import string

import httpx

PROXY_ENV = {"TELLUS_TRUSTED_PROXIES": "127.0.0.1"}


class HttpBrowser:
    def __init__(self, address: str = "192.0.2.10"):
        self.address = address
        self.csrf = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
        self.http = httpx.Client(timeout=30, follow_redirects=False)
        self.http.cookies.set("csrftoken", self.csrf, domain="127.0.0.1")

    def headers(self, address: str | None) -> dict[str, str]:
        # The server rotates the CSRF cookie at sign-in: send whatever the jar holds now.
        csrf = next((c.value for c in self.http.cookies.jar if c.name == "csrftoken"), self.csrf)
        return {"X-CSRFToken": csrf, "X-Forwarded-For": address or self.address}

    def get(self, url: str, address: str | None = None) -> httpx.Response:
        return self.http.get(url, headers=self.headers(address))

    def post(self, url: str, data: dict, address: str | None = None) -> httpx.Response:
        return self.http.post(url, data=data, headers=self.headers(address))

    def sign_in(self, url: str, username: str, password: str, address: str | None = None):
        """POST a sign-in form (`url` the console's /login/ or the admin's)."""
        return self.post(url, {"username": username, "password": password}, address)

    def forget_session(self) -> None:
        """Signed out by closing the browser: only long-lived cookies stay."""
        self.http.cookies.delete("sessionid", domain="127.0.0.1")

    def close(self) -> None:
        self.http.close()
