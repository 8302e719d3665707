using System.Numerics;
using System.Runtime.InteropServices;

namespace AotKvs.Storage.Log;

/// <summary>
/// CRC-32C (Castagnoli), the checksum of every log record. BitOperations uses the CPU's
/// crc32 instruction (SSE4.2, ARMv8), so no package is needed for it.
/// </summary>
internal static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var crc = uint.MaxValue;
        while (data.Length >= sizeof(ulong))
        {
            crc = BitOperations.Crc32C(crc, MemoryMarshal.Read<ulong>(data));
            data = data[sizeof(ulong)..];
        }
        foreach (var b in data)
            crc = BitOperations.Crc32C(crc, b);
        return ~crc;
    }
}
