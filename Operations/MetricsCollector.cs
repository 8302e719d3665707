using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;

namespace AotKvs.Operations;

/// <summary>
/// Listens, in process, to ASP.NET Core's request-duration histogram and to the service's
/// own "AotKvs" meter, and keeps just the aggregates /metrics shows. ASP.NET Core records
/// the duration only while someone listens; that listening is the whole per-request cost.
/// </summary>
internal sealed class MetricsCollector : IDisposable
{
    private const string HostingMeter = "Microsoft.AspNetCore.Hosting";
    private const string RequestDuration = "http.server.request.duration";

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<RequestSeriesKey, RequestSeries> _requests = new(RequestSeriesKey.Comparer);
    // Own instruments: instrument → rendered labels → value (a sum for counters, the last reading for gauges).
    private readonly ConcurrentDictionary<Instrument, ConcurrentDictionary<string, long>> _own = new();
    private readonly Lock _scrape = new();

    /// <param name="listensTo">Which meters of those names to listen to; all by default. A
    /// test that scrapes line for line names its own, so that instruments other tests in the
    /// same process create meanwhile stay out.</param>
    public MetricsCollector(Func<Meter, bool>? listensTo = null)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (listensTo is not null && !listensTo(instrument.Meter))
                return;
            if (instrument.Meter.Name == HostingMeter && instrument.Name == RequestDuration)
                listener.EnableMeasurementEvents(instrument);
            else if (instrument.Meter.Name == ServiceMetrics.MeterName && _own.TryAdd(instrument, new()))
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<double>(OnRequestDuration);
        _listener.SetMeasurementEventCallback<long>(OnOwnMeasurement);
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, state) => OnOwnMeasurement(instrument, value, tags, state));
        _listener.Start();
    }

    private void OnRequestDuration(Instrument instrument, double seconds, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        string method = "", route = "";
        var status = 0;
        foreach (var tag in tags)
        {
            switch (tag.Key)
            {
                case "http.request.method": method = tag.Value as string ?? ""; break;
                case "http.route": route = tag.Value as string ?? ""; break;
                case "http.response.status_code": status = tag.Value is int code ? code : 0; break;
            }
        }
        var key = new RequestSeriesKey(method, route, status);
        if (!_requests.TryGetValue(key, out var series))
            series = _requests.GetOrAdd(key, static _ => new RequestSeries());
        series.Record(seconds);
    }

    private void OnOwnMeasurement(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        if (!_own.TryGetValue(instrument, out var series))
            return;
        var labels = PrometheusText.Labels(tags);
        if (instrument.IsObservable)
            series[labels] = value;
        else
            series.AddOrUpdate(labels, value, (_, sum) => sum + value);
    }

    /// <summary>Everything collected, in the Prometheus text exposition format.</summary>
    public string Scrape()
    {
        lock (_scrape)
        {
            _listener.RecordObservableInstruments();
            var text = new StringBuilder();
            PrometheusText.WriteRequests(text, _requests);
            foreach (var (instrument, series) in _own.OrderBy(pair => pair.Key.Name, StringComparer.Ordinal))
                PrometheusText.WriteInstrument(text, instrument, series);
            return text.ToString();
        }
    }

    public void Dispose() => _listener.Dispose();
}
