"""Bare Rasa parse over HTTP, for bench/load.py: POST /model/parse {"text"} -> the Rasa model's parse.

The same model file and the same Rasa GraphRunner the assistant uses (nlu/predict_graph.py), with
nothing around it: no flows, no database. It stands in for `rasa run --enable-api` (whose /model/parse
answers the same dict) so that both sides load the model the same way; aiohttp, like the assistant.
Usage: python bench/bare_parse.py PORT
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.simplefilter("ignore")

from aiohttp import web  # noqa: E402

from bot.settings import Settings  # noqa: E402
from nlu.model import NluModel  # noqa: E402


def main() -> None:
    model = NluModel.load(Settings.load(env_file=None).model_path)
    graph = model._graph

    async def parse(request: web.Request) -> web.Response:
        text = (await request.json())["text"]
        results = graph.runner.run(inputs={model._input: [model._message(text)]}, targets=[graph.nlu_target])
        return web.json_response(results[graph.nlu_target][0].as_dict(only_output_properties=True))

    app = web.Application()
    app.router.add_post("/model/parse", parse)
    print("bare parse ready", flush=True)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
