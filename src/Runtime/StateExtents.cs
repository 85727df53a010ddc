using System;

namespace OptGen;

/// <summary>
/// The shape of compact state: for each state plane, each tensor's extent (how many elements of that plane the
/// tensor owns), the tensors' extents one after another. A rule whose state is per element has none (its planes are
/// the layout's state: one element per parameter); a rule with factored or per-block state (Adafactor's row and
/// column factors, Adam-mini's per-block second moment) gives its own through <see cref="Optimizer"/>'s
/// <c>StateLengthOf</c>.
/// </summary>
internal sealed class StateExtents
{
    private readonly int[][] _offsets; // per plane: tensors + 1 running offsets

    /// <summary>Extents from <paramref name="lengths"/>[plane][tensor].</summary>
    /// <exception cref="ArgumentOutOfRangeException">A plane's extents add up to more than one allocation holds.</exception>
    public StateExtents(int[][] lengths)
    {
        _offsets = new int[lengths.Length][];
        for (int k = 0; k < lengths.Length; k++)
        {
            int[] offsets = new int[lengths[k].Length + 1];
            long sum = 0;
            for (int j = 0; j < lengths[k].Length; j++)
            {
                sum += lengths[k][j];
                if (sum > Array.MaxLength)
                {
                    throw new ArgumentOutOfRangeException(nameof(lengths), sum, "The optimizer state for this layout does not fit in one allocation.");
                }

                offsets[j + 1] = (int)sum;
            }

            _offsets[k] = offsets;
            TotalLength += sum;
        }
    }

    /// <summary>The number of planes.</summary>
    public int Count => _offsets.Length;

    /// <summary>The elements of every plane together.</summary>
    public long TotalLength { get; }

    /// <summary>The elements of plane <paramref name="plane"/>.</summary>
    public int PlaneLength(int plane) => _offsets[plane][^1];

    /// <summary>Where tensor <paramref name="tensor"/>'s extent starts in plane <paramref name="plane"/>.</summary>
    public int OffsetOf(int plane, int tensor) => _offsets[plane][tensor];

    /// <summary>The elements of tensor <paramref name="tensor"/>'s extent in plane <paramref name="plane"/>.</summary>
    public int LengthOf(int plane, int tensor) => _offsets[plane][tensor + 1] - _offsets[plane][tensor];
}
