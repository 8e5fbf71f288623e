// Browser side of central/web/pages/releases.py: the mouse mode (zoom in x, zoom in x
// and y, pan, select a span) changes the chart's drag mode at once, without asking the
// server for the figure again. The server's figure carries the same mode (its State).
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    staxReleases: {
        setMode: function (mode, graphId) {
            const graph = document.getElementById(graphId);
            const plot = graph && graph.querySelector(".js-plotly-plot");
            if (!plot || !window.Plotly || !plot.layout) {
                return mode;
            }
            const dragmode = mode === "pan" ? "pan" : mode === "select" ? "select" : "zoom";
            window.Plotly.relayout(plot, {
                dragmode: dragmode,
                "yaxis.fixedrange": mode === "x",
            });
            return mode;
        },
        // a new station, span, nuclide choice or unit: the old zoom no longer applies
        // (the CSV and the integral read relayoutData, and would still use it)
        forgetZoom: function () {
            return null;
        },
    },
});
