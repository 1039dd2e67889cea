#include "report.hpp"

#include <fstream>

namespace switchyard::load {

namespace {

/// The page: four canvases, a table of the totals, and the script that
/// draws them from the embedded JSON. Errors (and console.error) are also
/// written into #status, so a headless browser's DOM dump shows them.
constexpr const char* page_head = R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>switchyard-load report</title>
<style>
body{font-family:sans-serif;margin:1.5em;max-width:1100px;color:#222}
.chart{height:300px;margin-bottom:2em} table{border-collapse:collapse}
td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #ddd}
.pass{color:#080}.fail{color:#c00;font-weight:bold}
</style>
<script>
window.__errors=[];
window.addEventListener('error',function(e){window.__errors.push(String(e.message));});
(function(){var ce=console.error;console.error=function(){window.__errors.push(Array.prototype.join.call(arguments,' '));ce.apply(console,arguments);};})();
</script>
<script>
)";

constexpr const char* page_body = R"(</script>
</head><body>
<h1>switchyard-load report</h1>
<div id="status" data-charts="0" data-points="0" data-errors=""></div>
<table id="totals"></table>
<h2>Latency percentiles per second (ms)</h2><div class="chart"><canvas id="latency"></canvas></div>
<h2>Throughput and errors per second</h2><div class="chart"><canvas id="throughput"></canvas></div>
<h2>Share of answers per deployment (breaker transitions and scenario events marked)</h2><div class="chart"><canvas id="share"></canvas></div>
<h2>Latency histogram</h2><div class="chart"><canvas id="histogram"></canvas></div>
@@DATA@@
<script>
(function(){
var d=JSON.parse(document.getElementById('run-data').textContent);
var status=document.getElementById('status');
var palette=['#1f77b4','#ff7f0e','#2ca02c','#d62728','#9467bd','#8c564b','#e377c2','#7f7f7f','#bcbd22','#17becf'];
var marks=[];
(d.breaker_transitions||[]).forEach(function(b){marks.push({x:b.t_s,label:b.to==='half_open'?'':b.deployment+' '+b.to,color:b.to==='open'?'#c00':b.to==='closed'?'#080':'#e9a'});});
((d.scenario||{}).events||[]).forEach(function(e){marks.push({x:e.t_s,label:e.label,color:'#555'});});
var markers={id:'markers',afterDatasetsDraw:function(chart,args,opts){
  if(!opts.show)return;var x=chart.scales.x,a=chart.chartArea,c=chart.ctx,n=0;
  marks.forEach(function(m,i){var px=x.getPixelForValue(m.x);if(px<a.left||px>a.right)return;
    c.save();c.strokeStyle=m.color;c.setLineDash([4,3]);c.beginPath();c.moveTo(px,a.top);c.lineTo(px,a.bottom);c.stroke();
    if(m.label){c.fillStyle=m.color;c.font='10px sans-serif';c.fillText(m.label,px+3,a.top+10+(n++%6)*11);}c.restore();});}};
Chart.register(markers);
var tl=d.timeline||[];var points=0,charts=0;
function xy(f){return tl.map(function(s){var v=f(s);points++;return {x:s.t+0.5,y:v};});}
function lin(id,datasets,extra){var o={type:'line',data:{datasets:datasets},options:Object.assign({animation:false,responsive:true,maintainAspectRatio:false,parsing:true,
  scales:{x:{type:'linear',title:{display:true,text:'seconds since start'}},y:{beginAtZero:true}},plugins:{markers:{show:true}}},extra||{})};
  new Chart(document.getElementById(id),o);charts++;}
lin('latency',['p50','p90','p99','max'].map(function(p,i){return {label:p,data:xy(function(s){return s.latency_ms[p];}),borderColor:palette[i],pointRadius:0};}));
lin('throughput',[{label:'answers/s (ok)',data:xy(function(s){return s.ok;}),borderColor:palette[2],pointRadius:0},
  {label:'errors/s',data:xy(function(s){return s.errors;}),borderColor:palette[3],pointRadius:0},
  {label:'completed/s',data:xy(function(s){return s.completed;}),borderColor:palette[0],borderDash:[3,3],pointRadius:0}]);
var deps={};tl.forEach(function(s){Object.keys(s.by_deployment).forEach(function(k){deps[k]=1;});});
lin('share',Object.keys(deps).map(function(k,i){return {label:k,fill:i===0?'origin':'-1',pointRadius:0,borderColor:palette[i%10],backgroundColor:palette[i%10]+'88',
  data:xy(function(s){var t=0;for(var q in s.by_deployment)t+=s.by_deployment[q];return t?100*(s.by_deployment[k]||0)/t:0;})};}),
  {scales:{x:{type:'linear',title:{display:true,text:'seconds since start'}},y:{stacked:true,min:0,max:100,title:{display:true,text:'% of answers'}}}});
var h=d.latency_histogram||[];
new Chart(document.getElementById('histogram'),{type:'bar',data:{labels:h.map(function(b){return b[1].toFixed(b[1]<10?2:0);}),
  datasets:[{label:'requests per latency bucket (upper bound, ms)',data:h.map(function(b){points++;return b[2];}),backgroundColor:palette[0]}]},
  options:{animation:false,responsive:true,maintainAspectRatio:false,plugins:{markers:{show:false}}}});charts++;
var rows=[['target',d.target],['target rate',d.target_rate],['achieved rate',d.achieved_rate.toFixed(1)],['requests',d.requests],['ok',d.ok],
  ['latency p50/p90/p99/p99.9/max (ms)',[d.latency_ms.p50,d.latency_ms.p90,d.latency_ms.p99,d.latency_ms.p999,d.latency_ms.max].map(function(v){return v.toFixed(1);}).join(' / ')],
  ['errors',JSON.stringify(d.errors)],['answers by deployment',JSON.stringify(d.by_deployment)],['retries / fallbacks',d.retries+' / '+d.fallbacks.total],
  ['driver send lateness p99 (ms)',d.schedule_error_ms.p99.toFixed(3)]];
var t=document.getElementById('totals');
rows.forEach(function(r){var tr=t.insertRow();tr.insertCell().textContent=r[0];tr.insertCell().textContent=String(r[1]);});
(d.expectations||[]).forEach(function(e){var tr=t.insertRow();var c=tr.insertCell();c.textContent=e.pass?'PASS':'FAIL';c.className=e.pass?'pass':'fail';
  tr.insertCell().textContent=e.expect+' (got '+e.actual+')';});
status.dataset.charts=charts;status.dataset.points=points;
})();
</script>
<script>document.getElementById('status').dataset.errors=window.__errors.join(' | ');</script>
</body></html>
)";

} // namespace

std::string write_html(const std::string& path, const nlohmann::json& doc,
                       const std::string& chart_js) {
  std::ofstream out{path};
  if (!out)
    return path + ": cannot write the report";
  // "</" inside a script element would end it; JSON allows "<\/".
  auto data = doc.dump();
  std::string safe;
  safe.reserve(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] == '<' && i + 1 < data.size() && data[i + 1] == '/')
      safe += "<\\";
    else
      safe += data[i];
  }
  std::string_view body{page_body};
  auto at = body.find("@@DATA@@");
  out << page_head << chart_js << body.substr(0, at)
      << "<script type=\"application/json\" id=\"run-data\">" << safe
      << "</script>" << body.substr(at + 8);
  out.close();
  return out ? std::string{} : path + ": cannot write the report";
}

} // namespace switchyard::load
