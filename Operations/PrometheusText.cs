using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace AotKvs.Operations;

/// <summary>The Prometheus text exposition format (version 0.0.4), for the few series we keep.</summary>
internal static class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static void WriteRequests(StringBuilder text, IReadOnlyDictionary<RequestSeriesKey, RequestSeries> requests)
    {
        var ordered = requests
            .Select(pair => (Labels: $"method=\"{Escape(pair.Key.Method)}\",route=\"{Escape(pair.Key.Route)}\",status=\"{pair.Key.Status}\"", Snapshot: pair.Value.Snapshot()))
            .OrderBy(series => series.Labels, StringComparer.Ordinal)
            .ToList();

        Header(text, "kvs_http_requests_total", "counter", "HTTP requests answered, by method, route and status.");
        foreach (var (labels, (cumulative, _)) in ordered)
            text.Append("kvs_http_requests_total{").Append(labels).Append("} ").Append(cumulative[^1]).Append('\n');

        Header(text, "kvs_http_request_duration_seconds", "histogram", "Time from request start to the end of the answer, by method, route and status.");
        foreach (var (labels, (cumulative, sum)) in ordered)
        {
            for (var i = 0; i < cumulative.Length; i++)
            {
                var bound = i < RequestSeries.Bounds.Length ? RequestSeries.Bounds[i].ToString(CultureInfo.InvariantCulture) : "+Inf";
                text.Append("kvs_http_request_duration_seconds_bucket{").Append(labels).Append(",le=\"").Append(bound).Append("\"} ")
                    .Append(cumulative[i]).Append('\n');
            }
            text.Append("kvs_http_request_duration_seconds_sum{").Append(labels).Append("} ").Append(sum.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
            text.Append("kvs_http_request_duration_seconds_count{").Append(labels).Append("} ").Append(cumulative[^1]).Append('\n');
        }
    }

    /// <summary>One of our own instruments: "kvs.forward.errors" becomes kvs_forward_errors_total.</summary>
    public static void WriteInstrument(StringBuilder text, Instrument instrument, IReadOnlyDictionary<string, long> series)
    {
        if (series.Count == 0)
            return;
        var counter = !instrument.IsObservable;
        var name = instrument.Name.Replace('.', '_') + (counter ? "_total" : "");
        Header(text, name, counter ? "counter" : "gauge", instrument.Description ?? "");
        foreach (var (labels, value) in series.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            text.Append(name);
            if (labels.Length > 0)
                text.Append('{').Append(labels).Append('}');
            text.Append(' ').Append(value).Append('\n');
        }
    }

    /// <summary>Tags as a label list: key="value",... with dots in keys turned into underscores.</summary>
    public static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.IsEmpty)
            return "";
        var text = new StringBuilder();
        foreach (var tag in tags)
        {
            if (text.Length > 0)
                text.Append(',');
            text.Append(tag.Key.Replace('.', '_')).Append("=\"").Append(Escape(Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? "")).Append('"');
        }
        return text.ToString();
    }

    private static void Header(StringBuilder text, string name, string type, string help) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
            .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static string Escape(string value) =>
        value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
}
