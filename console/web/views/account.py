"""Your account: who you are in the console and the time zone every page shows times in
(UTC until you choose another; the top bar says which is in force)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from console.web.access import ConsoleAccess, console_view
from console.web.forms.account import TimeZoneForm
from console.web.services.profile import set_time_zone
from console.web.times import TIME_ZONE_KEY, zone_label
from console.web.wording import form_problems
from fleet.errors import TellusError

TEMPLATE = "console/account/profile.html"


@console_view()
def account_page(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """GET shows the form; POST saves the zone and shows the page again in it."""
    if request.method == "POST":
        form = TimeZoneForm(request.POST)
        if form.is_valid():
            name = form.cleaned_data["time_zone"]
            try:
                set_time_zone(access.actor, request.user, name)
            except TellusError as refused:
                messages.error(request, f"The time zone was not changed: {refused.message}")
                return redirect("console:account")
            request.session[TIME_ZONE_KEY] = name
            messages.success(request, f"Times are now shown in {zone_label(name)}.")
            return redirect("console:account")
        messages.error(request, f"The time zone was not changed: {form_problems(form)}")
        return render(request, TEMPLATE, {"form": form, "zone": access.time_zone}, status=400)
    form = TimeZoneForm(initial={"time_zone": access.time_zone})
    return render(request, TEMPLATE, {"form": form, "zone": access.time_zone})
