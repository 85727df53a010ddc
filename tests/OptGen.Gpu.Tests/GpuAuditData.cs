using System;
using System.IO;

namespace OptGen.Gpu.Tests;

/// <summary>Seeded parameters and gradients, and a GpuOptimizer's checkpoint bytes, for the GPU audit tests (one copy).</summary>
internal static class GpuAuditData
{
    /// <summary>Parameters in [-0.5, 0.5) and gradients in [-0.05, 0.05), drawn from <paramref name="seed"/>.</summary>
    public static (float[] P, float[] G) Data(int length, int seed)
    {
        var random = new Random(seed);
        float[] p = new float[length], g = new float[length];
        for (int i = 0; i < length; i++)
        {
            p[i] = (float)(random.NextDouble() - 0.5);
            g[i] = (float)(0.1 * (random.NextDouble() - 0.5));
        }

        return (p, g);
    }

    public static byte[] Save(GpuOptimizer gpu)
    {
        var stream = new MemoryStream();
        gpu.SaveCheckpoint(stream);
        return stream.ToArray();
    }
}
