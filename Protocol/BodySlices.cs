using System.Buffers;
using System.IO.Pipelines;

namespace AotKvs.Protocol;

/// <summary>A large body sent in bounded, flushed slices instead of being copied whole into the output.</summary>
internal static class BodySlices
{
    /// <summary>
    /// Bodies larger than this go out in slices of this size, each flushed before the next
    /// is written, so one connection holds at most the server's output buffer (64 KiB)
    /// plus one slice, whatever the value's size and however slowly the client reads.
    /// </summary>
    public const int SliceBytes = 64 * 1024;

    /// <summary>Writes <paramref name="body"/> in flushed slices, then <paramref name="tail"/>; stops if the client goes.</summary>
    public static async Task WriteAsync(PipeWriter writer, ReadOnlyMemory<byte> body, ReadOnlyMemory<byte> tail, CancellationToken clientGone)
    {
        for (var offset = 0; offset < body.Length; offset += SliceBytes)
        {
            writer.Write(body.Span.Slice(offset, Math.Min(SliceBytes, body.Length - offset)));
            var flushed = await writer.FlushAsync(clientGone);
            if (flushed.IsCompleted || flushed.IsCanceled)
                return;
        }
        writer.Write(tail.Span);
        await writer.FlushAsync(clientGone);
    }
}
