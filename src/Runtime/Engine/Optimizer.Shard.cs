using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using OptGen.Engine;
using OptGen.Kernels;

[assembly: InternalsVisibleTo("OptGen.Distributed")]
[assembly: InternalsVisibleTo("OptGen.Distributed.Tests")]

namespace OptGen
{
    /// <summary>
    /// What the step engine needs to step one shard of a model split across processes (ZeRO-1, src/Distributed):
    /// a hook that turns the shard's Σ g² and max |g| into the global ones before <see cref="Decide"/>, the shard's position in the
    /// whole arena, and the state's size.
    /// See docs/architecture.md, "Step engine", "Sharding across processes".
    /// </summary>
    public abstract partial class Optimizer
    {
        /// <summary>
        /// When set, every step's Σ g² and max |g| of this optimizer's elements (a shard) go through it before the
        /// clip/skip decision, so every shard decides on the global norm and the global largest gradient. Null (the
        /// default) on one process.
        /// </summary>
        internal IGradientSummaryReducer? GradientReducer { get; set; }

        /// <summary>
        /// The whole model's arena position of this optimizer's arena element 0: 0 on one process, the shard's first
        /// element for a shard. Stochastic rounding draws by arena position counted from it
        /// (<see cref="Kernels.StochasticRounding"/>), so a shard draws the bits one process would.
        /// </summary>
        internal long ArenaOrigin { get; private set; }

        /// <summary>A shard's whole-model state index of each tensor's element 0 (see <see cref="StateOriginOf"/>); null on one process.</summary>
        private long[]? _stateOrigins;

        /// <summary>A shard's whole-model length of each tensor (see <see cref="ThresholdLengthOf"/>); null on one process.</summary>
        private int[]? _wholeLengths;

        /// <summary>
        /// The length that decides whether tensor <paramref name="tensor"/>'s state is quantized with 8-bit or 4-bit
        /// precision (<see cref="BlockwiseThreshold"/>): its length on one process, the whole tensor's for a shard, so
        /// a shard quantizes exactly the elements one process does (a tensor's part may be shorter than the threshold).
        /// </summary>
        internal int ThresholdLengthOf(int tensor) => _wholeLengths is { } whole ? whole[tensor] : Layout.LengthOf(tensor);

        /// <summary>
        /// The whole model's state index of tensor <paramref name="tensor"/>'s element 0, the element counter of
        /// <c>randn()</c>/<c>rand()</c> (docs/expressions.md): the layout's state offset on one process, where the
        /// tensor's part starts in the whole model's numbering for a shard, so a shard draws the numbers one process would.
        /// </summary>
        internal long StateOriginOf(int tensor) => _stateOrigins is { } origins ? origins[tensor] : Layout.StateOffsetOf(tensor);

        /// <summary>
        /// Makes this optimizer, over <c>ShardLayout.Restrict(<paramref name="whole"/>, <paramref name="start"/>, …)</c>,
        /// draw random bits (stochastic rounding, <c>randn()</c>) by its elements' positions in <paramref name="whole"/>,
        /// and quantize (8-bit, 4-bit state) the tensors one process quantizes. Blockwise state already made (a rule
        /// declared with <c>[DefaultStatePrecision]</c>) is stored again by the whole tensors' lengths.
        /// </summary>
        internal void PlaceAsShardOf(ParameterLayout whole, int start)
        {
            var origins = new long[Layout.TensorCount];
            var lengths = new int[Layout.TensorCount];
            for (int j = 0; j < origins.Length; j++)
            {
                origins[j] = whole.StateOffsetOf(j) + Math.Clamp(start - whole.ArenaOffsetOf(j), 0, whole.LengthOf(j));
                lengths[j] = whole.LengthOf(j);
            }

            ArenaOrigin = start;
            _stateOrigins = origins;
            _wholeLengths = lengths;
            if (_blockwise is not null)
            {
                StateView source = StateView;
                var target = new StateView(_state, CreateBlockwise(StoredPrecisions()), Layout);
                float[] values = new float[MaxTensorLength()];
                for (int k = 0; k < Descriptor.States.Count; k++)
                {
                    for (int j = 0; j < Layout.TensorCount; j++)
                    {
                        Span<float> tensor = values.AsSpan(0, Layout.LengthOf(j));
                        source.Read(k, j, tensor);
                        target.Write(k, j, tensor);
                    }
                }

                _blockwise = target.Blockwise;
            }
        }

        /// <summary>
        /// The bytes the state of <see cref="StatePrecision"/> (every group) would occupy over <paramref name="whole"/>
        /// on one process: as <see cref="StateBytes"/> counts them (float32 and bfloat16 state with the layout's
        /// padding, blockwise state without).
        /// </summary>
        internal long StateBytesOver(ParameterLayout whole)
        {
            if (!IsBlockwise(StatePrecision))
            {
                return (long)Descriptor.States.Count * whole.StateLength * (StatePrecision == StatePrecision.Float32 ? sizeof(float) : sizeof(ushort));
            }

            long bytes = 0;
            for (int j = 0; j < whole.TensorCount; j++)
            {
                bytes += BlockwiseState.TensorBytes(whole.LengthOf(j), Descriptor.States.Count == 0 ? 0 : TensorBits(StatePrecision, whole.LengthOf(j)));
            }

            return bytes * Descriptor.States.Count;
        }

        /// <summary>The bytes the per-element state occupies (every plane, without alignment padding).</summary>
        internal long StateBytes => _blockwise?.Bytes ?? _state.TotalLength * _state.ElementSize;

        /// <summary>
        /// Takes <paramref name="source"/>'s step count, batch size and every group's hyperparameters and carried host
        /// scalars, all a checkpoint restores besides the state (the same rule over a layout with the same groups:
        /// another shard of the same model). Cannot fail.
        /// </summary>
        internal void CopyScalarsFrom(Optimizer source)
        {
            for (int k = 0; k < _groupHyperparameters.Length; k++)
            {
                source._groupHyperparameters[k].CopyTo(_groupHyperparameters[k], 0);
                source._groupHostState[k].CopyTo(_groupHostState[k], 0);
            }

            StepCount = source.StepCount;
            _batchSize = source._batchSize;
        }

        /// <summary>
        /// Copies <paramref name="count"/> state elements of tensor <paramref name="tensor"/> in every plane, from
        /// <paramref name="sourceStart"/> of <paramref name="source"/>'s copy of the tensor to
        /// <paramref name="targetStart"/> of this one's, as stored (both float32, both bfloat16, or both blockwise of
        /// one precision with the tensor quantized alike and both starts on a block boundary: codes and absmax of whole
        /// blocks; checked by the caller with the ranges).
        /// </summary>
        internal void CopyStateFrom(Optimizer source, int tensor, int sourceStart, int targetStart, int count)
        {
            if (_blockwise is { } target)
            {
                BlockwiseState from = source._blockwise!;
                for (int k = 0; k < target.Count; k++)
                {
                    if (!target.IsQuantized(tensor))
                    {
                        from.Floats(k, tensor).Slice(sourceStart, count).CopyTo(target.Floats(k, tensor)[targetStart..]);
                        continue;
                    }

                    int bits = target.BitsOf(tensor), block = target.Codebook(k, tensor).BlockLength;
                    from.Codes(k, tensor).Slice((int)BlockwiseBlock.CodeBytes(sourceStart, bits), (int)BlockwiseBlock.CodeBytes(count, bits))
                        .CopyTo(target.Codes(k, tensor)[(int)BlockwiseBlock.CodeBytes(targetStart, bits)..]);
                    from.Absmax(k, tensor).Slice(sourceStart / block, (count + block - 1) / block).CopyTo(target.Absmax(k, tensor)[(targetStart / block)..]);
                }

                return;
            }

            for (int i = 0; i < _state.Count; i++)
            {
                if (_state.ElementSize == sizeof(float))
                {
                    Copy<float>(source, i, tensor, sourceStart, targetStart, count);
                }
                else
                {
                    Copy<ushort>(source, i, tensor, sourceStart, targetStart, count);
                }
            }
        }

        private void Copy<T>(Optimizer source, int plane, int tensor, int sourceStart, int targetStart, int count)
            where T : unmanaged =>
            source._state.Elements<T>(plane, source.Layout.StateOffsetOf(tensor) + sourceStart, count)
                .CopyTo(_state.Elements<T>(plane, Layout.StateOffsetOf(tensor) + targetStart, count));

        private GradientSummary ReduceGradientSummary(GradientSummary partial) =>
            GradientReducer is { } reducer ? reducer.Reduce(partial) : partial;
    }
}

namespace OptGen.Engine
{
    /// <summary>Combines one gradient summary over every process of a group (a collective: every process calls it in the same step).</summary>
    internal interface IGradientSummaryReducer
    {
        /// <summary>
        /// <paramref name="partial"/> combined over every process (<see cref="GradientSummary.Combine"/>), identical on
        /// every process.
        /// </summary>
        GradientSummary Reduce(GradientSummary partial);
    }

    /// <summary>
    /// Cuts a layout's packed arena into contiguous shards and restricts a layout to one shard. Every cut falls on a
    /// 16-element boundary of the tensor it is in (or a tensor's end), so a shard's tensors start where the
    /// single-process step's SIMD chunks start, and every element takes the same code path as on one process.
    /// </summary>
    internal static class ShardLayout
    {
        /// <summary>
        /// Cuts fall on multiples of this many elements from their tensor's start: 256, a multiple of the SIMD
        /// chunks' 16 and of the 8-bit (256) and 4-bit (128) state blocks, so a shard steps every element, and
        /// quantizes every block, as one process does.
        /// </summary>
        internal const int CutGranule = 256;

        /// <summary>Whether arena position <paramref name="cut"/> is a tensor's end or on a <see cref="CutGranule"/> boundary from its tensor's start.</summary>
        internal static bool IsOnGranule(ParameterLayout layout, int cut)
        {
            for (int j = 0; j < layout.TensorCount; j++)
            {
                int start = layout.ArenaOffsetOf(j), end = start + layout.LengthOf(j);
                if (cut >= start && cut < end)
                {
                    return (cut - start) % CutGranule == 0;
                }
            }

            return true;
        }

        /// <summary>
        /// The R + 1 arena positions that bound the shards of <paramref name="layout"/> across <paramref name="shards"/>
        /// processes: shard r is [cuts[r], cuts[r + 1]). Each cut is the even split point rounded down to its
        /// tensor's <see cref="CutGranule"/>-element boundary (a 16-element one, and a block boundary of 8-bit and
        /// 4-bit state); shards may be empty when the arena is small.
        /// </summary>
        internal static int[] Cuts(ParameterLayout layout, int shards)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
            int total = layout.TotalLength;
            var cuts = new int[shards + 1];
            cuts[shards] = total;
            int tensor = 0;
            for (int r = 1; r < shards; r++)
            {
                int target = (int)((long)total * r / shards);
                while (tensor < layout.TensorCount - 1 && layout.ArenaOffsetOf(tensor) + layout.LengthOf(tensor) <= target)
                {
                    tensor++;
                }

                int start = layout.ArenaOffsetOf(tensor);
                int cut = start + ((target - start) / CutGranule * CutGranule);
                cuts[r] = Math.Max(cut, cuts[r - 1]);
            }

            return cuts;
        }

        /// <summary>
        /// The layout of arena elements [<paramref name="start"/>, <paramref name="start"/> + <paramref name="length"/>):
        /// the same groups and tensors, each cut to its overlap with the range (possibly 0 elements).
        /// </summary>
        internal static ParameterLayout Restrict(ParameterLayout layout, int start, int length)
        {
            int end = start + length;
            var groups = new IReadOnlyList<int>[layout.GroupCount];
            for (int k = 0; k < layout.GroupCount; k++)
            {
                var lengths = new int[layout.TensorCountOf(k)];
                for (int i = 0; i < lengths.Length; i++)
                {
                    int j = layout.FirstTensorOf(k) + i;
                    int from = Math.Max(start, layout.ArenaOffsetOf(j));
                    int to = Math.Min(end, layout.ArenaOffsetOf(j) + layout.LengthOf(j));
                    lengths[i] = Math.Max(0, to - from);
                }

                groups[k] = lengths;
            }

            return new ParameterLayout(groups);
        }
    }
}
