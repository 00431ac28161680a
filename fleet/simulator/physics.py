"""What a connector measures while a vehicle charges or discharges.

Plausible rather than exact: constant power up to a taper point, then power falling
linearly to a trickle at 100 % SOC (DC tapers from 80 %, AC from 95 %); SOC rises with the
energy delivered into the vehicle's battery; the connector's temperature follows the load
towards an equilibrium and cools when idle. V2G discharge is negative power and energy
flowing back, SOC falling.
"""

import math
import random
from dataclasses import dataclass

# Per model: (kind, maximum power kW, V2G-capable). The kinds are the catalogue's
# (diagnostics/data/models.yaml); the power ratings are the models' names.
MODELS = {
    "TP-DC180": ("DC", 180.0, False),
    "TP-DC360": ("DC", 360.0, True),
    "TP-DC60": ("DC", 60.0, False),
    "TP-AC22": ("AC", 22.0, False),
}

AMBIENT_C = 22.0


@dataclass
class Vehicle:
    battery_kwh: float
    soc: float  # percent
    target_soc: float
    max_kw: float  # what the car accepts
    vin: str


def random_vehicle(rng: random.Random) -> Vehicle:
    battery = rng.choice([40.0, 58.0, 64.0, 77.0, 82.0, 100.0])
    soc = rng.uniform(8, 60)
    alphabet = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    return Vehicle(
        battery_kwh=battery,
        soc=soc,
        target_soc=rng.choice([80.0, 90.0, 100.0]),
        max_kw=rng.choice([50.0, 100.0, 150.0, 250.0]),
        vin="".join(rng.choice(alphabet) for _ in range(17)),
    )


@dataclass
class ConnectorPhysics:
    """One connector's electrical and thermal state."""

    kind: str  # "AC" or "DC"
    rated_kw: float
    temperature: float = AMBIENT_C
    voltage: float = 0.0
    current: float = 0.0
    power: float = 0.0
    # Extra heating (°C at full load) a scenario can add: a failing fan, a blocked filter.
    extra_heating: float = 0.0
    limit_fraction: float = 1.0  # set_power_limit, 0 pauses

    def nominal_voltage(self, soc: float) -> float:
        if self.kind == "AC":
            return 230.0
        return 350.0 + 1.2 * soc  # a 400 V-class pack rises with its charge

    def charge(self, vehicle: Vehicle, seconds: float, cap_kw: float | None) -> float:
        """Advance a charging session; returns the kWh delivered in this step."""
        taper_from = 80.0 if self.kind == "DC" else 95.0
        ceiling = min(self.rated_kw, vehicle.max_kw, cap_kw or math.inf) * self.limit_fraction
        if vehicle.soc >= taper_from:
            share = max(0.05, (100.0 - vehicle.soc) / (100.0 - taper_from))
            ceiling *= share
        if vehicle.soc >= 100.0:
            ceiling = 0.0
        self.power = round(ceiling, 2)
        kwh = self.power * seconds / 3600.0
        vehicle.soc = min(100.0, vehicle.soc + 100.0 * kwh * 0.95 / vehicle.battery_kwh)
        self._electrical(vehicle.soc)
        self._thermal(seconds)
        return kwh

    def discharge(self, vehicle: Vehicle, seconds: float, kw: float) -> float:
        """Advance a V2G discharge; returns the (positive) kWh sent back."""
        floor = 20.0
        self.power = -round(min(kw, self.rated_kw) if vehicle.soc > floor else 0.0, 2)
        kwh = -self.power * seconds / 3600.0
        vehicle.soc = max(0.0, vehicle.soc - 100.0 * kwh / vehicle.battery_kwh)
        self._electrical(vehicle.soc)
        self._thermal(seconds)
        return kwh

    def rest(self, seconds: float) -> None:
        self.power = 0.0
        self.voltage = self.nominal_voltage(0) if self.kind == "AC" else 0.0
        self.current = 0.0
        self._thermal(seconds)

    def _electrical(self, soc: float) -> None:
        self.voltage = round(self.nominal_voltage(soc), 1)
        phases = 3 if self.kind == "AC" else 1
        self.current = round(self.power * 1000.0 / (self.voltage * phases), 1)

    def _thermal(self, seconds: float) -> None:
        load = abs(self.power) / self.rated_kw if self.rated_kw else 0.0
        equilibrium = AMBIENT_C + 30.0 * load + self.extra_heating * max(load, 0.5)
        # First-order approach with a time constant of ten minutes.
        alpha = 1.0 - math.exp(-seconds / 600.0)
        self.temperature = round(self.temperature + (equilibrium - self.temperature) * alpha, 1)
