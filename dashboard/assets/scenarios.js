// Scenarios page (issue 15): saving a named scenario goes through the API, which checks the viewer login and the
// CSRF token (sent from the session's cookie, as dash-renderer does) and audits the save.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    scenarios: {
        save: function (body) {
            if (!body) { return window.dash_clientside.no_update; }
            if (!body.name) { return "Give the scenario a name first."; }
            var match = document.cookie.match(/(?:^|; )_csrf_token=([^;]*)/);
            return fetch("/api/v1/scenarios/saved", {
                method: "POST", credentials: "same-origin",
                headers: {"Content-Type": "application/json", "X-CSRFToken": match ? decodeURIComponent(match[1]) : ""},
                body: JSON.stringify(body)
            }).then(function (resp) {
                return resp.json().then(function (answer) {
                    if (resp.status === 201) {
                        return "Saved as '" + answer.data.name + "' (share: /api/v1/scenarios/saved/" +
                            answer.data.scenario_id + ").";
                    }
                    if (resp.status === 401) { return "Log in (viewer) to save scenarios."; }
                    return "Not saved: " + ((answer.error && answer.error.message) || resp.status);
                });
            }).catch(function (err) { return "Not saved: " + err; });
        }
    }
});
