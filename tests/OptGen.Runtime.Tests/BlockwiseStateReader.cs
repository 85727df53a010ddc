using System;
using System.IO;
using System.Linq;

namespace OptGen.Runtime.Tests;

/// <summary>
/// Reads an optimizer's stored state as its checkpoint lays it out (docs/training.md): after the header, per state
/// buffer and per tensor, a quantized tensor's codes then its absmax (one float32 per block), a float32 tensor's
/// values, a bfloat16 tensor's 2-byte values; a 4-byte checksum ends the file. The runtime's internals are not visible
/// to the tests, so the codes are read from the format.
/// </summary>
internal static class BlockwiseStateReader
{
    /// <summary>
    /// Codes[plane][tensor] (a float32 or bfloat16 tensor's raw value bytes) and Absmax[plane][tensor] (empty for those),
    /// with <paramref name="bitsOf"/>(tensor) the tensor's storage: 8 or 4 bits, 16 bfloat16, 0 float32.
    /// </summary>
    public static (byte[][][] Codes, float[][][] Absmax) Read(Optimizer optimizer, Func<int, int> bitsOf) =>
        Read(optimizer, (_, j) => bitsOf(j), (_, j) => optimizer.Layout.LengthOf(j));

    /// <summary>
    /// As <see cref="Read(Optimizer, Func{int, int})"/> for state whose buffers differ per tensor (format version 3):
    /// <paramref name="bitsOf"/>(plane, tensor) and <paramref name="lengthOf"/>(plane, tensor) say how each tensor's part
    /// of each plane is stored and how many values it has (a compact plane's extent).
    /// </summary>
    public static (byte[][][] Codes, float[][][] Absmax) Read(Optimizer optimizer, Func<int, int, int> bitsOf, Func<int, int, int> lengthOf)
    {
        ParameterLayout layout = optimizer.Layout;
        int planes = optimizer.Descriptor.States.Count;
        var stream = new MemoryStream();
        optimizer.SaveCheckpoint(stream);
        byte[] file = stream.ToArray();
        long total = 0;
        for (int k = 0; k < planes; k++)
        {
            for (int j = 0; j < layout.TensorCount; j++)
            {
                total += Bytes(lengthOf(k, j), bitsOf(k, j)).Total;
            }
        }

        int at = checked((int)(file.Length - 4 - total));
        var codes = new byte[planes][][];
        var absmax = new float[planes][][];
        for (int k = 0; k < planes; k++)
        {
            codes[k] = new byte[layout.TensorCount][];
            absmax[k] = new float[layout.TensorCount][];
            for (int j = 0; j < layout.TensorCount; j++)
            {
                (int codeBytes, int blocks, _) = Bytes(lengthOf(k, j), bitsOf(k, j));
                codes[k][j] = file[at..(at + codeBytes)];
                at += codeBytes;
                absmax[k][j] = [.. Enumerable.Range(0, blocks).Select(b => BitConverter.ToSingle(file, at + (4 * b)))];
                at += 4 * blocks;
            }
        }

        return (codes, absmax);
    }

    /// <summary>The codes (or values) bytes, the blocks and the total bytes of one plane of a tensor of <paramref name="n"/> elements.</summary>
    private static (int CodeBytes, int Blocks, long Total) Bytes(int n, int bits)
    {
        (int codeBytes, int blocks) = bits switch
        {
            0 => (4 * n, 0),
            16 => (2 * n, 0),
            8 => (n, (n + 255) / 256),
            _ => ((n + 1) / 2, (n + 127) / 128),
        };
        return (codeBytes, blocks, codeBytes + (4L * blocks));
    }
}
