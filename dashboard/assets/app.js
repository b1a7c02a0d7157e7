// Clientside callbacks of crisisrisk (served locally by Dash from /assets).
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    crisisrisk: {
        printPage: function (n) {
            if (n) { setTimeout(function () { window.print(); }, 50); }
            return "";
        }
    }
});
