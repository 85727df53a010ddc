using System;

namespace OptGen.Kernels;

/// <summary>Everything one kernel launch over one tensor needs: the step's inputs and the memory it walks.</summary>
public ref struct KernelArguments
{
    /// <summary>The hyperparameter values of the tensor's group, in the order of <see cref="OptimizerDescriptor.Hyperparameters"/>.</summary>
    public ReadOnlySpan<double> Hyperparameters;

    /// <summary>The optimizer's carried host state (<see cref="OptimizerDescriptor.HostStates"/>) after this step's advance; empty for most rules.</summary>
    public ReadOnlySpan<double> HostState;

    /// <summary>The step number t = 1, 2, … of this update.</summary>
    public long Step;

    /// <summary>A factor applied to every gradient element before the rule sees it (unscaling, clipping); 1 by default.</summary>
    public double GradientScale;

    private double _batchSize;

    /// <summary>
    /// The step's batch size B, which rules with per-example hyperparameters scale them by (see
    /// <see cref="Optimizer.BatchSize"/>); a value below 1 (a default-initialized struct) reads as 1.
    /// </summary>
    public double BatchSize
    {
        readonly get => _batchSize >= 1 ? _batchSize : 1;
        set => _batchSize = value;
    }

    /// <summary>
    /// For a rule that reads a per-element input beside the gradient (the batch mean of per-example squared
    /// gradients): the byte distance from <see cref="Gradients"/> to that input's element of the same index (it is
    /// stored like the gradients). 0 for every other rule.
    /// </summary>
    public nint InputOffset;

    /// <summary>The first parameter element.</summary>
    public ref byte Parameters;

    /// <summary>The first gradient element.</summary>
    public ref byte Gradients;

    /// <summary>The first element of state buffer 0; buffer k starts <see cref="StateStride"/>·k elements later.</summary>
    public ref byte State;

    /// <summary>The distance, in elements, between consecutive state buffers.</summary>
    public nuint StateStride;

    /// <summary>
    /// The global index of the first element: its position in the optimizer's whole parameter set (0 for
    /// <see cref="Optimizer.Step(System.Span{float}, System.ReadOnlySpan{float})"/>). Rules that call <c>randn()</c>
    /// draw by global index, so a tensor's numbers do not depend on how the step splits it.
    /// </summary>
    public ulong ElementOffset;

    /// <summary>The number of elements to update.</summary>
    public nuint Length;

    /// <summary>
    /// The most threads the update may use: 1 runs on the calling thread only; 0 or −1 use
    /// <see cref="ParallelUpdate.DefaultMaxDegreeOfParallelism"/>.
    /// </summary>
    public int MaxDegreeOfParallelism;

    /// <summary>
    /// Blockwise-quantized state (8-bit or 4-bit codes and one absmax per block) when its codebooks are set: the
    /// update then runs through <see cref="BlockwiseDriver"/> and <see cref="State"/> is unused.
    /// </summary>
    public BlockwiseArguments Blockwise;
}
