using System;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

namespace OptGen.Gpu;

/// <summary>The rules with reductions (<see cref="MultiPassOptimizer"/>) on the device: which run, and their update.</summary>
public sealed partial class GpuOptimizer
{
    /// <summary>
    /// Refuses a rule with reductions that has no GPU passes: a declared rule generated in a project that does not
    /// reference ILGPU, or one that reads per-element inputs (every catalog rule with reductions has its device passes).
    /// </summary>
    /// <exception cref="ArgumentException">The rule has no GPU passes.</exception>
    private static void ThrowIfNoGpuPasses(Optimizer optimizer)
    {
        if (optimizer is ReductionOptimizer and not IGpuKernelSource)
        {
            throw new ArgumentException(
                $"The optimizer '{optimizer.Descriptor.Name}' ({optimizer.GetType().FullName}) has no GPU kernel: it was generated in a project that does not reference ILGPU, or it reads per-element inputs beside its reductions.",
                nameof(optimizer));
        }
    }

    /// <summary>The multi-pass update of a rule that <see cref="ThrowIfNoGpuPasses"/> accepted, bound to the layout's chunks.</summary>
    private static GpuUpdate CreatePassUpdate(Optimizer optimizer, Accelerator accelerator, GpuChunk[] chunks)
    {
        // Compact state (Adam-mini's v_b) shaped for the current BlockSize before the blocks are cut and the state copied.
        optimizer.FitStateToHyperparameters();
        int groups = optimizer.Layout.GroupCount;
        GpuUpdate update = optimizer switch
        {
            Lamb => new GpuLamb(accelerator, groups),
            Lars => new GpuLars(accelerator, groups),
            AdamWScheduleFree => new GpuScheduleFree(accelerator, groups),
            AdamMini mini => new GpuAdamMini(mini, accelerator, groups),
            Adafactor adafactor => new GpuAdafactor(adafactor, accelerator, groups),
            _ => ((IGpuKernelSource)optimizer).CreateGpuUpdate(accelerator, groups),
        };
        try
        {
            ((IGpuPassUpdate)update).Bind(optimizer.Layout, chunks);
        }
        catch
        {
            update.Dispose();
            throw;
        }

        return update;
    }

    /// <summary>
    /// For <see cref="AdamWScheduleFree"/>: swaps the device parameters from y (training) to x = lerp(y, z, 1 − 1/β₁)
    /// for evaluation, keeping y in the device state, as <see cref="AdamWScheduleFree.Eval"/> does on the host (one
    /// launch over every tensor); <see cref="Train(ArrayView{float}, AcceleratorStream?)"/> restores y bit for bit. While in eval mode a step is refused.
    /// </summary>
    /// <param name="parameters">The float32 parameter arena on <see cref="Accelerator"/>; <see cref="Length"/> elements.</param>
    /// <param name="stream">The stream to launch on; the default stream when null.</param>
    /// <exception cref="NotSupportedException">The rule is not <see cref="AdamWScheduleFree"/>.</exception>
    /// <exception cref="ArgumentException">The view has the wrong length, lives on another accelerator, or overlaps the state. Nothing is written.</exception>
    /// <exception cref="InvalidOperationException">The state is bfloat16, or another thread uses the optimizer. Nothing is written.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A group's β₁ has no averaged point (β₁ = 0). Nothing is written.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void Eval(ArrayView<float> parameters, AcceleratorStream? stream = null) => SwapScheduleFree(parameters, stream, toEval: true);

    /// <summary>For <see cref="AdamWScheduleFree"/>: swaps the device parameters back from x to the saved y (exact); see <see cref="Eval(ArrayView{float}, AcceleratorStream?)"/>.</summary>
    /// <param name="parameters">The float32 parameter arena on <see cref="Accelerator"/>.</param>
    /// <param name="stream">The stream to launch on; the default stream when null.</param>
    /// <exception cref="NotSupportedException">The rule is not <see cref="AdamWScheduleFree"/>.</exception>
    /// <exception cref="ArgumentException">The view has the wrong length, lives on another accelerator, or overlaps the state. Nothing is written.</exception>
    /// <exception cref="InvalidOperationException">The state is bfloat16, or another thread uses the optimizer. Nothing is written.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void Train(ArrayView<float> parameters, AcceleratorStream? stream = null) => SwapScheduleFree(parameters, stream, toEval: false);

    /// <summary>
    /// <see cref="Eval(ArrayView{float}, AcceleratorStream?)"/> over host memory: copies the parameters to the device,
    /// swaps them there and copies them back (for tests and small problems, like the host-memory <c>Step</c>).
    /// </summary>
    /// <param name="parameters">The parameter arena (y); x on return. <see cref="Length"/> elements.</param>
    /// <exception cref="NotSupportedException">The rule is not <see cref="AdamWScheduleFree"/>.</exception>
    /// <exception cref="ArgumentException">The span has the wrong length. Nothing is written.</exception>
    /// <exception cref="InvalidOperationException">The state is bfloat16, or another thread uses the optimizer. Nothing is written.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A group's β₁ has no averaged point (β₁ = 0). Nothing is written.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void Eval(Span<float> parameters) => SwapScheduleFree(parameters, toEval: true);

    /// <summary><see cref="Train(ArrayView{float}, AcceleratorStream?)"/> over host memory; see <see cref="Eval(Span{float})"/>.</summary>
    /// <param name="parameters">The parameter arena (x); y on return, bit for bit. <see cref="Length"/> elements.</param>
    /// <exception cref="NotSupportedException">The rule is not <see cref="AdamWScheduleFree"/>.</exception>
    /// <exception cref="ArgumentException">The span has the wrong length. Nothing is written.</exception>
    /// <exception cref="InvalidOperationException">The state is bfloat16, or another thread uses the optimizer. Nothing is written.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void Train(Span<float> parameters) => SwapScheduleFree(parameters, toEval: false);

    private void SwapScheduleFree(Span<float> parameters, bool toEval)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (parameters.Length != Length)
        {
            throw new ArgumentException($"Expected {Length} parameters but got {parameters.Length}.", nameof(parameters));
        }

        if (Length == 0)
        {
            SwapScheduleFree(ArrayView<float>.Empty, null, toEval);
            return;
        }

        EnterStaging();
        try
        {
            _stagingParameters ??= Accelerator.Allocate1D<float>(Length);
            ArrayView<float> p = _stagingParameters.View.BaseView;
            unsafe
            {
                // Pinned for the copies (see the host-memory Step).
                fixed (float* host = parameters)
                {
                    p.CopyFromCPU(ref MemoryMarshal.GetReference(parameters), parameters.Length);
                    SwapScheduleFree(p, null, toEval);
                    p.CopyToCPU(ref MemoryMarshal.GetReference(parameters), parameters.Length);
                }
            }
        }
        finally
        {
            System.Threading.Volatile.Write(ref _stagingBusy, 0);
        }
    }

    private void SwapScheduleFree(ArrayView<float> parameters, AcceleratorStream? stream, bool toEval)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Optimizer is not AdamWScheduleFree scheduleFree)
        {
            throw new NotSupportedException($"Eval and Train swap the parameters of AdamWScheduleFree; '{Optimizer.Descriptor.Name}' keeps no second point.");
        }

        var operand = Operand.Of(parameters, nameof(parameters));
        Check(operand);
        if (_state32 is not null && Overlaps(operand, Operand.Of(_state32.View.BaseView, "state")))
        {
            throw new ArgumentException("The parameters overlap the optimizer's own state.", nameof(parameters));
        }

        if (stream is not null && stream.Accelerator != Accelerator)
        {
            throw new ArgumentException("The stream belongs to another accelerator.", nameof(stream));
        }

        using DeviceGuard device = EnterDevice(toEval ? "GpuOptimizer.Eval" : "GpuOptimizer.Train");
        scheduleFree.Swap(toEval, move =>
        {
            if (_chunks is null)
            {
                return;
            }

            var weights = new float[Layout.GroupCount];
            for (int k = 0; k < weights.Length; k++)
            {
                weights[k] = 1 - (1 / (float)Optimizer.GetGroupHyperparameter(k, "Beta1"));
            }

            using MemoryBuffer1D<float, Stride1D.Dense> device = Accelerator.Allocate1D(weights);
            AcceleratorStream on = stream ?? Accelerator.DefaultStream;
            GpuScheduleFree.LaunchSwap(Accelerator, on, _updateThreads, _chunks.View.BaseView, device.View.BaseView, parameters, _state32!.View.BaseView, StateStride, move);
            on.Synchronize();
        });
    }

    /// <summary>The elements of the longest state plane of the host's (compact) state; 0 without state.</summary>
    private int LongestStatePlane()
    {
        int longest = 0;
        for (int k = 0; k < Optimizer.StateStorage.Count; k++)
        {
            longest = Math.Max(longest, Optimizer.StateStorage.PlaneLength(k));
        }

        return longest;
    }

    /// <summary>
    /// Sets the group size and grid of the reducing passes (tests: the results do not depend on them). Only for a
    /// rule with reductions.
    /// </summary>
    internal void SetReductionLaunchShape(int groupSize, int gridGroups) =>
        ((IGpuPassUpdate)_update).SetLaunchShape(groupSize, gridGroups);
}

/// <summary>What <see cref="GpuOptimizer"/> calls on a multi-pass update beyond <see cref="GpuUpdate"/>.</summary>
internal interface IGpuPassUpdate
{
    /// <summary>Allocates the tensor table and the reduction buffers for the layout cut into <paramref name="chunks"/>.</summary>
    void Bind(ParameterLayout layout, GpuChunk[] chunks);

    /// <summary>Sets the reducing passes' group size and grid.</summary>
    void SetLaunchShape(int groupSize, int gridGroups);
}
