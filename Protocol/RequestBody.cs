using System.Buffers;
using Microsoft.AspNetCore.Http.Features;

namespace AotKvs.Protocol;

/// <summary>
/// A whole request body in one buffer reserved from the <see cref="BufferBudget"/>. It is
/// copied out of the server's input as it arrives, so the body is held once, not twice. The
/// server's body-size limit applies while it is read; a body over the limit, a broken one
/// (bad chunking, cut short) or one the budget cannot hold becomes a JSON error instead of
/// an exception.
/// </summary>
internal readonly struct RequestBody : IDisposable
{
    /// <summary>First buffer for a body of unknown length (chunked); it doubles as needed.</summary>
    private const int ChunkedStartBytes = 16 * 1024;

    private readonly BudgetedBuffer _buffer;

    private RequestBody(BudgetedBuffer buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    public int Length { get; }
    public ReadOnlySpan<byte> Span => _buffer.Array.AsSpan(0, Length);
    public ReadOnlyMemory<byte> Memory => _buffer.Array.AsMemory(0, Length);

    public static async ValueTask<(RequestBody Body, JsonResponse? Error)> ReadAsync(HttpRequest request, BufferBudget budget)
    {
        var reader = request.BodyReader;
        var buffer = default(BudgetedBuffer);
        var length = 0;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                var data = result.Buffer;
                if (buffer.Array is null && !BudgetedBuffer.TryRent(budget, FirstSize(request, data.Length, result.IsCompleted), out buffer))
                    return (default, Responses.BusyAndClose(request.HttpContext.Response));
                if (length + data.Length > buffer.Array!.Length && !buffer.TryGrow(GrownSize(request, length + data.Length), length))
                {
                    buffer.Dispose();
                    return (default, Responses.BusyAndClose(request.HttpContext.Response));
                }
                data.CopyTo(buffer.Array.AsSpan(length));
                length += (int)data.Length;
                reader.AdvanceTo(data.End);
                if (result.IsCompleted)
                    return (new RequestBody(buffer, length), null);
            }
        }
        catch (BadHttpRequestException e)
        {
            buffer.Dispose();
            return (default, e.StatusCode == StatusCodes.Status413PayloadTooLarge ? Responses.BodyTooLarge : Responses.BodyMalformed);
        }
        catch (IOException)
        {
            buffer.Dispose();
            return (default, Responses.BodyMalformed); // the client went away mid-body
        }
        catch
        {
            buffer.Dispose(); // an aborted connection: the reservation must not outlive it
            throw;
        }
    }

    /// <summary>The announced length when there is one (the server has checked it against the limit), else a start that grows.</summary>
    private static int FirstSize(HttpRequest request, long arrived, bool complete) =>
        request.ContentLength is { } announced ? (int)announced
        : complete ? (int)arrived
        : (int)Math.Max(arrived, ChunkedStartBytes);

    /// <summary>Half again as much, but never past the body limit (a body over it fails while being read).</summary>
    private static int GrownSize(HttpRequest request, long needed)
    {
        var limit = request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize ?? int.MaxValue;
        return (int)Math.Min(Math.Max(needed, Math.Min(needed + needed / 2, limit)), int.MaxValue);
    }

    public void Dispose() => _buffer.Dispose();
}
