using System;
using System.Collections.Generic;

namespace OptGen;

/// <summary>
/// One pass of a multi-pass step over memory: which element streams it reads and writes (float32). The rule's
/// remarks and <see cref="OptimizerDescriptor.BytesReadPerElement"/> / <see cref="OptimizerDescriptor.BytesWrittenPerElement"/>
/// are the sums over its passes, and the benchmark's memory-only yardstick replays exactly these passes.
/// </summary>
/// <param name="Description">What the pass computes, e.g. "m, v; Σp², Σr² per tensor".</param>
/// <param name="Reads">The element streams read, e.g. ["p", "g", "m", "v"].</param>
/// <param name="Writes">The element streams written in place (a subset of <paramref name="Reads"/>).</param>
public sealed record PassTraffic(string Description, IReadOnlyList<string> Reads, IReadOnlyList<string> Writes)
{
    /// <summary>Bytes moved per element by this pass with float32 storage.</summary>
    public int BytesPerElement => sizeof(float) * (Reads.Count + Writes.Count);

    /// <summary>Checks that the passes add up to the descriptor's traffic (one definition of the bytes).</summary>
    /// <exception cref="InvalidOperationException">They do not.</exception>
    internal static IReadOnlyList<PassTraffic> Checked(OptimizerDescriptor descriptor, params PassTraffic[] passes)
    {
        int read = 0, written = 0;
        foreach (PassTraffic pass in passes)
        {
            read += sizeof(float) * pass.Reads.Count;
            written += sizeof(float) * pass.Writes.Count;
        }

        if (read != descriptor.BytesReadPerElement || written != descriptor.BytesWrittenPerElement)
        {
            throw new InvalidOperationException($"{descriptor.Name}: the passes move {read} + {written} bytes per element, the descriptor says {descriptor.BytesReadPerElement} + {descriptor.BytesWrittenPerElement}.");
        }

        return passes;
    }
}
