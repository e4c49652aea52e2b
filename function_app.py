"""The Azure Functions app (Python v2 programming model): registers the blueprints. Nothing else."""

import azure.functions as func

from functions.events import blueprint as events_blueprint
from functions.sweep import blueprint as sweep_blueprint

app = func.FunctionApp()
app.register_functions(events_blueprint)
app.register_functions(sweep_blueprint)
