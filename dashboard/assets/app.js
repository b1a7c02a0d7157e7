// Clientside callbacks and print support of crisisrisk (served locally by Dash from /assets).
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    crisisrisk: {
        printPage: function (n) {
            if (n) { setTimeout(function () { window.print(); }, 50); }
            return "";
        },
        briefHref: function (year, regionId) {
            return "/region/" + encodeURIComponent(regionId) + "/brief.pdf?year=" + encodeURIComponent(year);
        }
    }
});

// Printing the region brief: fit every graph to its (narrower) print column, then restore it.
(function () {
    var saved = [];
    function graphs() { return Array.prototype.slice.call(document.querySelectorAll('.brief .js-plotly-plot')); }
    window.addEventListener('beforeprint', function () {
        if (!window.Plotly) { return; }
        saved = graphs().map(function (gd) {
            // A4 portrait with 10 mm margins is about 720 CSS px wide; half of it in a two-column row.
            var card = gd.closest('.card');
            var half = card && card.parentElement && card.parentElement.classList.contains('grid-2');
            var width = half ? 345 : 700;
            var old = {el: gd, width: gd.layout.width, height: gd.layout.height};
            var target = Math.min(gd.layout.height || 300, 250);
            if (card && card.offsetParent === null) { return old; }  // hidden in print
            window.Plotly.relayout(gd, {width: Math.max(width, 200), height: target});
            return old;
        });
    });
    window.addEventListener('afterprint', function () {
        if (!window.Plotly) { return; }
        saved.forEach(function (s) {
            window.Plotly.relayout(s.el, {width: s.width || null, height: s.height || null, autosize: true});
        });
        saved = [];
    });
})();
