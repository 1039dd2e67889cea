// The gateway's /dashboard: one self-contained page (Chart.js inlined, no
// network besides the gateway's own /status and /events) that refreshes
// every second. Behind keys, the page asks for a key once (or takes it from
// the URL fragment `#key=...`, which browsers never send), keeps it in the
// tab's sessionStorage and sends it as a Bearer header.
#include "observe.hpp"

namespace switchyard::gateway {

namespace {

constexpr const char* page_head = R"(<!doctype html>
<html><head><meta charset="utf-8"><title>Switchyard dashboard</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.2em;color:#222}
h1{font-size:1.3em;margin:0 0 .3em} h2{font-size:1.05em;margin:1.2em 0 .4em}
table{border-collapse:collapse;font-size:.9em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
.chip{display:inline-block;padding:1px 7px;margin:1px;border-radius:9px;background:#eee}
.chip.current{background:#2e7d32;color:#fff;font-weight:bold}
.chip.unusable{text-decoration:line-through;color:#999}
.st-closed{color:#2e7d32} .st-open,.st-forced_open,.st-disabled{color:#c62828;font-weight:bold}
.st-half_open{color:#ef6c00;font-weight:bold}
#events{font-family:monospace;font-size:.85em;max-height:18em;overflow:auto}
#keyform{display:none;margin:1em 0}
.chart{height:220px;max-width:900px}
</style><script>
)";

constexpr const char* page_body = R"(</script></head><body>
<h1>Switchyard</h1>
<div id="status" data-updates="0" data-errors="" data-charts="0"></div>
<div id="summary">loading...</div>
<form id="keyform"><label>Key: <input id="key" type="password" size="40"></label>
<button>Use</button> (admin key or a gateway key; kept for this tab only)</form>
<h2>Routes (targets in order; green: serving now)</h2><table id="routes"></table>
<h2>Deployments</h2><table id="deployments"></table>
<h2>Attempts per second by deployment</h2><div class="chart"><canvas id="rate"></canvas></div>
<h2>Last events</h2><div id="events"></div>
<script>
var st=document.getElementById('status');
function fail(m){st.dataset.errors=(st.dataset.errors?st.dataset.errors+'; ':'')+m;}
window.addEventListener('error',function(e){fail(String(e.message));});
var m=/[#&]key=([^&]*)/.exec(location.hash);
if(m){sessionStorage.setItem('switchyard-key',decodeURIComponent(m[1]));history.replaceState(null,'',location.pathname);}
function key(){return sessionStorage.getItem('switchyard-key')||'';}
document.getElementById('keyform').addEventListener('submit',function(e){
  e.preventDefault();sessionStorage.setItem('switchyard-key',document.getElementById('key').value);
  document.getElementById('keyform').style.display='none';tick();});
function get(path){var h={};if(key())h['Authorization']='Bearer '+key();
  return fetch(path,{headers:h,cache:'no-store'}).then(function(r){
    if(r.status==401||r.status==403){document.getElementById('keyform').style.display='block';throw 'auth';}
    if(!r.ok)throw 'HTTP '+r.status;return r.json();});}
function esc(s){return String(s).replace(/[&<>"]/g,function(c){return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c];});}
function ms(v){return v==null?'-':v<10?v.toFixed(2):v.toFixed(0);}
var chart=null,prev={},lastSeq=0,events=[];
if(typeof Chart!=='undefined'){chart=new Chart(document.getElementById('rate'),{type:'line',
  data:{labels:[],datasets:[]},options:{animation:false,responsive:true,maintainAspectRatio:false,
  scales:{y:{beginAtZero:true}}}});st.dataset.charts='1';}
var palette=['#1565c0','#c62828','#2e7d32','#ef6c00','#6a1b9a','#00838f','#5d4037'];
function render(s){
  var usable={};s.deployments.forEach(function(d){usable[d.name]=d.usable;});
  var rows='<tr><th>route</th><th>targets</th><th>serving now</th></tr>';
  s.routes.forEach(function(r){
    rows+='<tr data-route="'+esc(r.name)+'" data-current="'+esc(r.current||'')+'"><td>'+esc(r.name)+'</td><td>'+
      r.targets.map(function(t){return '<span class="chip'+(t===r.current?' current':'')+(usable[t]?'':' unusable')+'">'+esc(t)+'</span>';}).join(' &rarr; ')+
      '</td><td>'+esc(r.current||'none')+'</td></tr>';});
  document.getElementById('routes').innerHTML=rows;
  rows='<tr><th>deployment</th><th>provider / model</th><th>breaker</th><th>in flight</th><th>queued</th>'+
    '<th>error rate</th><th>errors by class</th><th>p50 / p90 / p99 ms</th><th>last transition</th><th>marked down</th></tr>';
  s.deployments.forEach(function(d){
    var state=d.disabled?'disabled':d.breaker;var errs=Object.keys(d.recent_errors||{}).map(function(k){
      return esc(k)+' '+(100*d.recent_errors[k]).toFixed(0)+'%';}).join(', ');
    rows+='<tr data-deployment="'+esc(d.name)+'" data-breaker="'+esc(state)+'"><td>'+esc(d.name)+'</td><td>'+esc(d.provider)+' / '+esc(d.model)+
      '</td><td class="st-'+esc(state)+'">'+esc(state)+'</td><td>'+d.in_flight+'</td><td>'+d.queued+'</td><td>'+
      (100*d.recent_error_rate).toFixed(1)+'%</td><td>'+(errs||'-')+'</td><td>'+ms(d.latency_p50_ms)+' / '+ms(d.latency_p90_ms)+' / '+ms(d.latency_p99_ms)+
      '</td><td>'+(d.last_transition?esc(d.last_transition):'-')+'</td><td>'+(d.marked_down?esc(d.down_reason||'yes'):'no')+'</td></tr>';});
  document.getElementById('deployments').innerHTML=rows;
  document.getElementById('summary').textContent='calls running: '+s.calls_running+', queued: '+s.calls_queued+(s.draining?' (draining)':'')+
    ' - updated '+new Date().toLocaleTimeString();
  if(chart){var now=Date.now(),label=new Date(now).toLocaleTimeString();chart.data.labels.push(label);
    s.deployments.forEach(function(d,i){var ds=chart.data.datasets.find(function(x){return x.label===d.name;});
      if(!ds){ds={label:d.name,data:chart.data.labels.slice(1).map(function(){return null;}),borderColor:palette[i%palette.length],pointRadius:0};chart.data.datasets.push(ds);}
      var p=prev[d.name];ds.data.push(p?Math.max(0,(d.calls-p.calls)*1000/Math.max(1,now-p.at)):null);prev[d.name]={calls:d.calls,at:now};});
    if(chart.data.labels.length>120){chart.data.labels.shift();chart.data.datasets.forEach(function(x){x.data.shift();});}
    chart.update();}
}
function describe(e){var t=new Date(e.ts).toLocaleTimeString()+' ';
  if(e.event==='fallback')return t+'fallback on '+e.route+': '+e.from+' -> '+e.to+' ('+e.reason+')';
  if(e.event==='breaker')return t+'breaker '+e.deployment+': '+e.from+' -> '+e.to;
  if(e.event==='restart')return t+'restart of '+e.deployment+' ('+e.reason+(e.marked_down?', marked down':'')+')';
  if(e.event==='attempt')return t+'attempt on '+e.deployment+' failed: '+e.class+(e.status?' ['+e.status+']':'');
  return t+e.event;}
function tick(){
  get('/status').then(function(s){render(s);st.dataset.updates=String(Number(st.dataset.updates)+1);
    return get('/events?after='+lastSeq);}).then(function(r){
    lastSeq=r.last;events=events.concat(r.events).slice(-100);
    document.getElementById('events').innerHTML=events.slice().reverse().map(function(e){
      return '<div data-event="'+esc(e.event)+'">'+esc(describe(e))+'</div>';}).join('');
  }).catch(function(e){if(e!=='auth')fail(String(e));});}
tick();setInterval(tick,1000);
</script></body></html>
)";

} // namespace

std::string dashboard_page(const std::string& chart_js) {
  std::string out = page_head;
  out += chart_js;
  out += page_body;
  return out;
}

} // namespace switchyard::gateway
