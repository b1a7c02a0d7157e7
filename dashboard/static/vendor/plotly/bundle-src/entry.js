'use strict';
// crisisrisk's partial Plotly bundle: the trace types its pages draw (scatter is always in core).
var Plotly = require('plotly.js/lib/core');

Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/waterfall'),
    require('plotly.js/lib/choroplethmap'),
    require('plotly.js/lib/scattermap'),
]);

module.exports = Plotly;
