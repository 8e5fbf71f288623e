// Browser side of central/web/chartkit.py: "Save all charts" downloads a PNG of each
// Plotly chart on the page, named after the chart's own PNG file name.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    stax: Object.assign({}, (window.dash_clientside || {}).stax, {
        saveAllCharts: function (nClicks) {
            if (!nClicks || !window.Plotly) {
                return "";
            }
            // the charts shown: a page may keep unused ones hidden (display: none)
            const charts = Array.from(document.querySelectorAll(".chart .js-plotly-plot"))
                .filter(function (chart) { return chart.offsetParent !== null; });
            charts.forEach(function (chart, i) {
                const options = (chart._context && chart._context.toImageButtonOptions) || {};
                window.Plotly.downloadImage(chart, {
                    format: "png",
                    filename: options.filename || ("chart_" + (i + 1)),
                    scale: 2,
                });
            });
            return charts.length + " charts saved";
        },
    }),
});
