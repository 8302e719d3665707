using System.Net.Sockets;
using System.Text;
using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Hostile;

/// <summary>
/// Clients that ask for a large value and never read it cost main a bounded buffer each,
/// not a copy of the value: the value goes out from the stored entry in flushed slices.
/// </summary>
[Collection(FaultsCollection.Name), Trait("Category", "Faults")]
public sealed class SlowReaderMemoryTests
{
    private const int Readers = 50;
    private const int ValueChars = 15 * 1024 * 1024;

    [Fact]
    public async Task Fifty_slow_readers_of_a_15_MiB_value_grow_main_by_less_than_128_MiB()
    {
        using var main = ServerProcess.StartMain();
        var value = new string('s', ValueChars);
        (await PutValueAsync(main.BaseUri, "/kvs/big", $"\"{value}\"")).ShouldBe(201, """{"result": "created"}""");
        var before = main.ResidentKib;

        var readers = new List<Socket>();
        try
        {
            var request = Encoding.ASCII.GetBytes("GET /kvs/big HTTP/1.1\r\nHost: h\r\n\r\n");
            for (var i = 0; i < Readers; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
                await socket.ConnectAsync("127.0.0.1", main.Port);
                await socket.SendAsync(request);
                readers.Add(socket);
            }

            // Whole-value copies would appear within a second (they are memcpy-fast); watch for 2 s.
            var peak = before;
            var watch = System.Diagnostics.Stopwatch.StartNew();
            while (watch.Elapsed < TimeSpan.FromSeconds(2))
            {
                peak = Math.Max(peak, main.ResidentKib);
                await Task.Delay(50);
            }
            var grownMib = (peak - before) / 1024.0;
            Assert.True(grownMib < 128, $"main grew by {grownMib:F0} MiB for {Readers} slow readers");

            // A slow reader that starts reading still gets every byte, in order.
            var answer = await ReadWholeAnswerAsync(readers[0]);
            Assert.EndsWith($"\r\n\r\n{{\"result\":\"found\",\"value\":\"{value}\"}}", answer);
        }
        finally
        {
            foreach (var socket in readers)
                socket.Dispose();
        }
    }

    private static async Task<string> ReadWholeAnswerAsync(Socket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var received = new MemoryStream();
        var buffer = new byte[256 * 1024];
        var expected = -1L;
        while (expected < 0 || received.Length < expected)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (n == 0)
                break;
            received.Write(buffer, 0, n);
            if (expected < 0)
            {
                var text = Encoding.ASCII.GetString(received.GetBuffer(), 0, (int)Math.Min(received.Length, 4096));
                var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                var length = text.IndexOf("Content-Length: ", StringComparison.OrdinalIgnoreCase);
                if (end > 0 && length > 0)
                    expected = end + 4 + long.Parse(text[(length + 16)..text.IndexOf('\r', length)]);
            }
        }
        return Encoding.ASCII.GetString(received.ToArray());
    }
}
