using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Faults;

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
        (await PutValueAsync(main.BaseUri, "/kvs/big", $"\"{value}\"")).ShouldBe(201, Expected.Created);
        var before = main.ResidentKib;

        var readers = new List<RawConnection>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            for (var i = 0; i < Readers; i++)
            {
                var reader = await RawConnection.OpenAsync("127.0.0.1", main.Port, timeout.Token, receiveBuffer: 4096);
                readers.Add(reader);
                await reader.SendAsync("GET /kvs/big HTTP/1.1\r\nHost: h\r\n\r\n", timeout.Token);
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
            var answer = await readers[0].ReadAnswerAsync(timeout.Token);
            Assert.Equal($"{{\"result\":\"found\",\"value\":\"{value}\"}}", answer.Text);
        }
        finally
        {
            foreach (var reader in readers)
                reader.Dispose();
        }
    }
}
