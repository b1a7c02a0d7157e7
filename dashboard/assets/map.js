// Map page (issue 13 items 3 and 4): the view's country, year and colour in the URL, and the names of the
// larger admin-1 units drawn as HTML labels where they fit (MapLibre text layers would fetch glyphs from
// another host; this product contacts no host but its own).
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    crisisrisk_map: {
        // replaceState, not a dcc.Location: a Location change re-runs the page router and redraws the map.
        writeUrl: function (country, year, metric) {
            var params = new URLSearchParams(window.location.search);
            if (country && country !== "__world__") { params.set("country", country); } else { params.delete("country"); }
            if (year !== null && year !== undefined) { params.set("year", String(year)); }
            if (metric && metric !== "watch") { params.set("metric", metric); } else { params.delete("metric"); }
            var search = params.toString();
            var url = window.location.pathname + (search ? "?" + search : "") + window.location.hash;
            if (url !== window.location.pathname + window.location.search + window.location.hash) {
                window.history.replaceState(window.history.state, "", url);
            }
            return "";
        }
    }
});

(function () {
    var LAYER = "unit-labels";
    var FONT_PX = 11;

    function labelTrace(gd) {
        var data = gd.data || [];
        for (var i = 0; i < data.length; i++) { if (data[i].meta === LAYER) { return data[i]; } }
        return null;
    }

    function draw(gd) {
        var fl = gd._fullLayout;
        if (!fl || !fl.map || !fl.map._subplot || !fl.map._subplot.map) { return; }
        var map = fl.map._subplot.map;
        var host = map.getContainer();
        var box = host.querySelector(".map-labels");
        var trace = labelTrace(gd);
        if (!trace) { if (box) { box.remove(); } return; }
        if (!box) {
            box = document.createElement("div");
            box.className = "map-labels";
            box.setAttribute("aria-hidden", "true");
            host.appendChild(box);
        }
        if (!map._crisisriskLabels) {
            map._crisisriskLabels = true;
            map.on("move", function () { draw(gd); });
        }
        while (box.firstChild) { box.removeChild(box.firstChild); }
        var width = host.clientWidth, height = host.clientHeight, placed = [];
        for (var i = 0; i < trace.text.length; i++) {  // largest units first: they get the room
            var p = map.project([trace.lon[i], trace.lat[i]]);
            var text = String(trace.text[i]).replace(/ (State|Province|Region|Governorate|Department)$/, "");
            var w = text.length * FONT_PX * 0.55 + 6, h = FONT_PX + 4;
            var r = {x0: p.x - w / 2, y0: p.y - h / 2, x1: p.x + w / 2, y1: p.y + h / 2};
            if (r.x0 < 2 || r.y0 < 2 || r.x1 > width - 2 || r.y1 > height - 2) { continue; }
            var clash = placed.some(function (q) {
                return !(r.x1 < q.x0 || r.x0 > q.x1 || r.y1 < q.y0 || r.y0 > q.y1);
            });
            if (clash) { continue; }
            placed.push(r);
            var span = document.createElement("span");
            span.className = "map-label";
            span.textContent = text;
            span.style.left = Math.round(p.x) + "px";
            span.style.top = Math.round(p.y) + "px";
            box.appendChild(span);
        }
        box.setAttribute("data-count", String(placed.length));
    }

    function hook() {
        var gds = document.querySelectorAll(".map-page .js-plotly-plot");
        for (var i = 0; i < gds.length; i++) {
            var gd = gds[i];
            if (!gd._crisisriskHooked && gd.on) {
                gd._crisisriskHooked = true;
                gd.on("plotly_afterplot", (function (g) { return function () { draw(g); }; })(gd));
                draw(gd);
            }
        }
    }
    setInterval(hook, 500);
})();
