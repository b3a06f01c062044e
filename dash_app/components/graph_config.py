"""The one plotly.js config every FoldDeck chart starts from.

PAE and pLDDT data are confidential: no chart may offer to upload itself to Plotly's cloud
("Share chart…" / "Edit in Chart Studio") or link to it. Every `dcc.Graph` takes its `config`
from `graph_config()`; a test walks every page layout and the results view to check.
"""
from __future__ import annotations

CLOUD_BUTTONS = ("sendDataToCloud", "editInChartStudio")  # plotly.js modebar buttons that upload the data
NO_CLOUD = {
    "displaylogo": False,  # the logo links to plotly.com
    "showSendToCloud": False,
    "showEditInChartStudio": False,
    "showLink": False,  # the "Edit chart" link under the plot
    "sendData": False,  # what that link would send
    "plotlyServerURL": "",  # nowhere to send to, even if a button came back
}


def graph_config(**extra) -> dict:
    """Return a dcc.Graph config with the cloud buttons off; `extra` adds settings (never turns them on)."""
    remove = [*extra.pop("modeBarButtonsToRemove", []), *CLOUD_BUTTONS]
    return {**extra, **NO_CLOUD, "modeBarButtonsToRemove": list(dict.fromkeys(remove))}
