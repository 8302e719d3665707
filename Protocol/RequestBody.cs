using System.Buffers;

namespace AotKvs.Protocol;

/// <summary>
/// A whole request body in one pooled buffer. The server's body-size limit applies while
/// it is read; a body over the limit, or a broken one (bad chunking, cut short), becomes a
/// JSON error instead of an exception.
/// </summary>
internal readonly struct RequestBody : IDisposable
{
    private readonly byte[] _buffer;

    private RequestBody(byte[] buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    public int Length { get; }
    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, Length);
    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    public static async ValueTask<(RequestBody Body, JsonResponse? Error)> ReadAsync(HttpRequest request)
    {
        var reader = request.BodyReader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                if (result.IsCompleted)
                {
                    var body = Copy(result.Buffer);
                    reader.AdvanceTo(result.Buffer.End);
                    return (body, null);
                }
                reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            }
        }
        catch (BadHttpRequestException e)
        {
            return (default, e.StatusCode == StatusCodes.Status413PayloadTooLarge ? Responses.BodyTooLarge : Responses.BodyMalformed);
        }
        catch (IOException)
        {
            return (default, Responses.BodyMalformed); // the client went away mid-body
        }
    }

    private static RequestBody Copy(in ReadOnlySequence<byte> data)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, (int)data.Length));
        data.CopyTo(buffer);
        return new RequestBody(buffer, (int)data.Length);
    }

    public void Dispose()
    {
        if (_buffer is not null)
            ArrayPool<byte>.Shared.Return(_buffer);
    }
}
