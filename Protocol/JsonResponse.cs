using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;

namespace AotKvs.Protocol;

/// <summary>A complete answer whose status and JSON body never change, encoded once.</summary>
internal sealed class JsonResponse(int status, byte[] body)
{
    public const string ContentType = "application/json";

    public int Status { get; } = status;
    public ReadOnlyMemory<byte> Body { get; } = body;

    public static JsonResponse Result(int status, string result) =>
        new(status, JsonSerializer.SerializeToUtf8Bytes(new ResultBody(result), JsonContext.Default.ResultBody));

    public static JsonResponse Error(int status, string error) =>
        new(status, JsonSerializer.SerializeToUtf8Bytes(new ErrorBody(error), JsonContext.Default.ErrorBody));

    public Task WriteAsync(HttpResponse response) => WriteAsync(response, Status, Body.Span, default, default);

    /// <summary>Writes a JSON body made of up to three parts, with an exact Content-Length.</summary>
    public static Task WriteAsync(HttpResponse response, int status,
        ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, ReadOnlySpan<byte> third)
    {
        WriteHead(response, status, first.Length + second.Length + third.Length);
        var writer = response.BodyWriter;
        writer.Write(first);
        writer.Write(second);
        writer.Write(third);
        return FlushAsync(writer);
    }

    private static void WriteHead(HttpResponse response, int status, long length)
    {
        response.StatusCode = status;
        response.Headers.ContentType = ContentType;
        response.ContentLength = length;
    }

    private static async Task FlushAsync(PipeWriter writer) => await writer.FlushAsync();

    /// <summary>
    /// Like the three-part write, for a middle part that may be large: it is sent from the
    /// caller's memory (a stored entry never changes) in flushed slices, not copied whole.
    /// </summary>
    public static Task WriteLargeAsync(HttpResponse response, int status,
        ReadOnlySpan<byte> first, ReadOnlyMemory<byte> second, ReadOnlySpan<byte> third)
    {
        if (second.Length <= BodySlices.SliceBytes)
            return WriteAsync(response, status, first, second.Span, third);
        WriteHead(response, status, first.Length + second.Length + third.Length);
        response.BodyWriter.Write(first);
        return BodySlices.WriteAsync(response.BodyWriter, second, third.ToArray(), response.HttpContext.RequestAborted);
    }
}
