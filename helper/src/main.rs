fn main() {
    println!("coffer-helper");
}
