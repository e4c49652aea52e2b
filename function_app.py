"""The Azure Functions app (Python v2 programming model): registers the blueprints. Nothing else."""

import azure.functions as func

from functions.events import blueprint as events_blueprint
from functions.sweep import blueprint as sweep_blueprint
from functions.wiring import blueprint as wiring_blueprint
from shared.adapters import telemetry
from shared.config import TelemetrySettings

telemetry.configure(
    TelemetrySettings.from_env()
)  # Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is set
app = func.FunctionApp()
app.register_functions(events_blueprint)
app.register_functions(sweep_blueprint)
app.register_functions(wiring_blueprint)
